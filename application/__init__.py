"""Use cases: one service per area. They authorise, call ports and publish events; they import the domain only."""
