"""b2core: luigi workflows anywhere."""
