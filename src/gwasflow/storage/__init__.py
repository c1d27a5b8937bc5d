"""gwasflow.storage"""
