"""The lambda-warmup extension: holds Lambda's INIT phase open until the function reports.

Run by the layer's launcher, ``extensions/lambda-warmup``, as ``python3 -E -s -S -u -m
extension_entry <name> [<launch time>]``. It is on the critical path of every cold start (Lambda
starts the runtime only after every extension has registered), so it imports nothing but the
standard library, and before ``register`` only ``os``, ``sys``, ``time``, ``socket`` and
``threading``: ``json`` (and the ``re`` it pulls in) is loaded after ``register``, and
``http.client`` / ``http.server`` (13-18 ms here) are never loaded; :mod:`._api` and
:mod:`._listener` speak the little HTTP/1.1 they need over plain sockets.

Modules, one per concern, in lifecycle order (see ``__main__``):

- :mod:`._clock`: the process start instant, which the on-demand INIT budget is measured from.
- :mod:`._settings`: environment variables, parsed once.
- :mod:`._listener`: the report listener on 127.0.0.1 (started before ``register``).
- :mod:`._report`: the ``lambda-warmup/1`` report format, validated.
- :mod:`._api`: the Extensions API client.
- :mod:`._hold`: how long to hold INIT, and the hold itself.
- :mod:`._log`: one line per decision, prefixed with the extension's name.
"""
