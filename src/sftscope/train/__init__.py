"""sftscope.train"""
