// TailorTape
