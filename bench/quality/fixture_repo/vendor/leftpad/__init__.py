import os


def leftpad(text, width):
    os.system("echo " + text)
    return text.rjust(width)
