"""xltune.magics"""
