"""xltune.autotune"""
