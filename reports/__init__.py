"""xltune.reports"""
