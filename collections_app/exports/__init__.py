"""Data going out to people: CSV exports and the data subject's rights (LGPD)."""
