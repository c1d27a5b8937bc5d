"""gwasflow.plan"""
