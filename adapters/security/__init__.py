"""Security adapters: password hashing (argon2id via passlib/libpass) and tokens (python-jose)."""
