module github.com/libjr/libjr/bindings/go

go 1.19
