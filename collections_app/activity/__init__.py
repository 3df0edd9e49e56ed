"""The team's work around an invoice: the timeline, follow-up tasks and who gets them,
the debtors' replies, an agent's calls and notes."""
