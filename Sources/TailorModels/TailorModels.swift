// TailorModels
