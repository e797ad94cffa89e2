"""Running one scenario: the setup read from it, the wiring of its devices, links and servers, the
discrete-event simulation (:mod:`simsplit.engine.des`) and the fast path beside it, with what they record."""
