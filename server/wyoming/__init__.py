"""The Wyoming protocol front-end (Home Assistant's voice pipeline): speech-to-text and text-to-speech
over the `wyoming` package's own server and events.

It is a front-end like the HTTP API: it turns events into calls on the shared services
(`server.services`) and their results back into events. It never imports an engine or loads a model;
in distributed mode it only enqueues on the Celery queues. The wire protocol stays in this package.
"""
