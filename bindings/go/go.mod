module libjr.dev/jr

go 1.19
