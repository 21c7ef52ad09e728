"""CRM.COM back-office Web API: token login, JSON envelopes, communications and their queue."""
