"""Binary-trait statistics: the null logistic model with an offset, Firth regression (exact and regenie's
approximation) and the saddle-point approximation (SPA) of the score test's p-value."""
