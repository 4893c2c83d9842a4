"""The stand-in server's parts, for tests and demos only.

One module per part, each using only the others' public names:

* :mod:`.server`: :class:`~.server.StandInServer`, the public facade that owns the rest
  and starts and stops it.
* :mod:`.http`: the HTTP plumbing (threaded server, keep-alive handler, requests and
  replies); it hands each parsed request to a :class:`~.http.Responder` and knows nothing
  of the APIs.
* :mod:`.dispatch`: the :class:`~.http.Responder` of the stand-in: routes a request to its
  emulator, with the faults of :mod:`.faults` injected, and logs it.
* :mod:`.ensembledata` and :mod:`.research`: each API's emulator (credentials, usage,
  payloads, error shapes).
* :mod:`.avatars`: the image host the payloads' avatar URLs point at.
* :mod:`.images`: the synthesized image bytes it serves.
* :mod:`.request_log`: what the stand-in received, for assertions.

The synthetic users and their payloads are in :mod:`.users`, the fault model in
:mod:`.faults`: both are used without a server (by the command line and by tests).
"""
