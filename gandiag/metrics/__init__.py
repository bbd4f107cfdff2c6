"""(populated in progress)"""
