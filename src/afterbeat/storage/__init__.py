"""The person's own disk: the SQLite store, the recorder, session files, importers and exports."""
