"""The finance team's settings pages for message templates and provider accounts.

Every member reads them; only admins (and owners) write. The checks are the API's: templates go
through `template_check`, accounts through `provider_account_errors`, and the test send is the
API's `provider_test_send`. Credentials are only ever shown masked, and secret inputs never show
a value back."""
