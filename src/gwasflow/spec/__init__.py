"""gwasflow.spec"""
