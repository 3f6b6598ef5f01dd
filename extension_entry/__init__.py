"""The lambda-warmup extension: holds Lambda's INIT phase open until the function reports.

Run by the layer's launcher, ``extensions/lambda-warmup``, as ``python3 -E -s -S -u -m
extension_entry <name> [<launch time>]``.

It is on the critical path of every cold start (Lambda starts the runtime only after every
extension has registered), so it imports nothing but the standard library, and before
``register`` only ``os``, ``sys``, ``time`` and the C module ``_socket``: the report socket is
bound and listening (the kernel queues an early report), and ``threading``, ``json`` and ``re``
load after ``register`` with the thread that serves it. ``socket`` (~5 ms), ``http.client`` and
``http.server`` (13-18 ms) are never loaded: :mod:`._net`, :mod:`._http`, :mod:`._api` and
:mod:`._listener` speak the little TCP and HTTP/1.1 they need. Start to ``register``: ~15 ms
median on the 2-core build machine (~30 ms with ``socket.py`` and eager imports), of which ~8 ms
is the interpreter's own start.

It runs on the function runtime's ``python3``: Python 3.12 or later, the runtimes the layer is
built and byte-compiled for (python3.12, 3.13, 3.14), and the library's own floor. It used to
promise syntax Python 3.8 parses, for a layer attached to a function on an older runtime; that
was dropped (issue 14): nothing checked it, the tools (ruff, mypy) target 3.12, the code already
needed 3.10 to behave as written (``socket.timeout`` is ``TimeoutError`` only since 3.10), and
on such a function the library cannot be imported anyway, so no report would ever come.
``tests/functional/extension/test_extension.py`` runs it under each runtime's Python.

Modules, one per concern, in lifecycle order (see ``__main__``):

- :mod:`._protocol`: what the library must agree on (report address, format and size limit,
  the duration and port forms, Lambda's INIT limits); copied into the library byte for byte.
- :mod:`._clock`: the process start instant, which the on-demand INIT budget is measured from.
- :mod:`._settings`: environment variables, parsed once.
- :mod:`._net`: TCP sockets from ``_socket``, without ``socket.py`` (the report socket is bound
  and listening before ``register``).
- :mod:`._http`: the one HTTP/1.1 reader, for the API's responses and the listener's requests.
- :mod:`._api`: the Extensions API client.
- :mod:`._budget`: how long the hold may last, by initialization type.
- :mod:`._listener`: serves the report socket from a thread, after ``register``.
- :mod:`._report`: the ``lambda-warmup/1`` report format, validated.
- :mod:`._hold`: the hold itself: reports in, a release decision out.
- :mod:`._log`: one line per decision, prefixed with the extension's name, or one JSON object
  with ``AWS_LAMBDA_LOG_FORMAT=JSON``; ``AWS_LAMBDA_LOG_LEVEL`` filters them.
- :mod:`._emf`: the hold's EMF document (``InitHeld``), with ``WARMUP_METRICS=emf``.
"""
