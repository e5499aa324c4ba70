echo buffer-file-name
