"""Not valid Python."""
def broken(:
    pass
