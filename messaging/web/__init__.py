"""The finance team's settings pages for message templates and provider accounts.

Every member reads them; only admins (and owners) write. The writes are the API's: templates are
saved by `template_save` (its `template_check`), accounts by `provider_account_save` (its
`provider_account_errors`), and the test send is the API's `provider_test_send`. Credentials are
only ever shown masked, and secret inputs never show a value back."""
