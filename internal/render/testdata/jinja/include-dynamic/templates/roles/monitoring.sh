# role monitoring
