"""gwasflow.regenie"""
