"""News that arrives: the in-app notification centre and Web Push for residents who opt in."""
