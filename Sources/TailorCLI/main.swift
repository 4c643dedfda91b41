import ArgumentParser
import Tailor
print("tailor")
