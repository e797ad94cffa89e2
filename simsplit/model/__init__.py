"""The model's components: arrivals, other tenants' load, mobility, the radio and its energy, servers and their
queues, service-time variability, the channel models (:mod:`simsplit.model.channel`) and the strategies that
choose where to split (:mod:`simsplit.model.strategies`)."""
