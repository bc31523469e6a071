"""Shipped model directories (package data): each holds d1.keras, d2.keras, d3.keras and model_card.json."""
