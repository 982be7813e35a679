"""The command-line client (`voice-api transcribe | say | clone | voices | tasks`).

It talks to a Voice API server over HTTP only, like any other caller: `api` holds the HTTP calls,
`jobs` a task's life (submit, follow, fetch, cancel on Ctrl-C) with bounded concurrency, `display`
the progress bars and tables, `commands` the click commands. Nothing here imports the server's
internals or an engine, so the client works against a server on another machine or version.
"""
