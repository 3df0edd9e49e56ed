"""The demo tenant that `manage.py seed_demo` creates (see its docstring)."""
