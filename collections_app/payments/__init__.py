"""Money in: payments, agreements, promises, Pix, what a debtor owes today (fines and
interest), bank files and reconciliation, the payment webhook and the debtor's payment page."""
