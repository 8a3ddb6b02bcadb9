"""regspec.common: the neutral records and pure bookkeeping the model and the runtime share.

`regspec.model` and `regspec.impl` are two independent programs with the
same semantics; the differential tests compare them, so neither may run
the other's OTP code. What they may share is here, and only this: frozen
records that cross between processes (signals, child specs, supervisor
states), the shapes of OTP's messages and the receive patterns that match
them, and pure functions over those records. Nothing here sends, receives,
waits or holds a process: a module of this package imports only
`regspec.terms`, its siblings, the standard library and attrs
(tests/test_architecture.py keeps it so).

- `records`: FrozenMap, the signal payloads, the driver's wait record and
  the well-known pids of the processes started before step 0;
- `protocol`: gen_server's call and cast messages, the receive patterns
  (DOWN, EXIT, a reply, an init ack) and how a call names its server;
- `childspec`: child specs, their defaults and template substitution;
- `supervision`: the pure state of supervisors and DynamicSupervisors and
  the bookkeeping over it;
- `results`: the one `ErlangError`, exit reasons, and what a driver step
  answers;
- `steps`: which scenario steps this release covers, and its local targets;
- `chat_room`: the article's Chat.Server callbacks;
- `backends`: the registry of via backends, one record each naming its
  model, impl and beam legs (as `"module:attr"` strings, imported only
  when a program asks for its own leg) and the traits the validator and
  the generator read.
"""
