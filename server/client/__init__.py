"""The command-line client (`voice-api transcribe | say | clone | voices | tasks`).

It talks to a Voice API server over HTTP only, like any other caller: `config` finds the server and
key, `api` holds the HTTP calls, `jobs` a task's life (submit, follow, fetch, cancel on Ctrl-C) with
bounded concurrency and `kinds` what each kind submits and fetches, `display` the progress bars and
tables, `session` what every command shares (errors to exit codes), `commands` and `listings` the
click commands. Nothing here imports the server's internals or an engine, so the client works
against a server on another machine or version.
"""
