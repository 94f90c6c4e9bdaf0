# role {{ role }} on {{ name }} (the loop variable is visible, `loop` itself is not: {{ loop is defined }})
