"""The evaluation harness: tasks with checkers, agents, runners, reports, a gym environment.

See docs/evals.md. Submodules are imported on use (the harness pulls in the desktop, the agent
loop and optional extras such as Ray and gymnasium only where needed).
"""
