"""The blocks of the project, one folder each (loaded by dg.load_from_defs_folder)."""
