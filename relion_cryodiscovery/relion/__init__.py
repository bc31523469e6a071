"""relion"""
