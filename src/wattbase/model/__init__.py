"""Plain typed objects shared by every layer."""
