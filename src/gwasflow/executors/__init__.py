"""gwasflow.executors"""
