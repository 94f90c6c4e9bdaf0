#!/bin/bash
two trailing newlines

no trailing newline
end


