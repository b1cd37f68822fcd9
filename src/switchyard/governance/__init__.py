"""Who may call, how fast, and what it may spend: virtual keys, rate limits, budgets, the usage ledger."""
