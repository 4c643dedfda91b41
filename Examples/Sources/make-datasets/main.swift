// Writes the pretraining corpus and the default fine-tuning task, deterministically:
//
//   Datasets/corpus/corpus.txt          simple English prose about animals, countries and fruit
//   Datasets/corpus/dialogues.jsonl     ChatML-style general dialogues (greetings, "Tell me about …", stories)
//   Datasets/default-task/train.jsonl   questions answered in one short sentence (the task)
//   Datasets/default-task/valid.jsonl
//
// Run from Examples/: swift run -c release make-datasets [--root ..]
import Foundation
import Tailor

// MARK: Facts

struct Animal { let name: String, colour: String, home: String, food: String, legs: Int? }
struct Country { let name: String, capital: String, continent: String, language: String }
struct Fruit { let name: String, colour: String, taste: String?, grows: String }

let animals: [Animal] = [
    .init(name: "fox", colour: "red", home: "forest", food: "mice", legs: 4),
    .init(name: "wolf", colour: "grey", home: "forest", food: "deer", legs: 4),
    .init(name: "bear", colour: "brown", home: "forest", food: "berries", legs: 4),
    .init(name: "deer", colour: "brown", home: "forest", food: "grass", legs: 4),
    .init(name: "owl", colour: "brown", home: "forest", food: "mice", legs: 2),
    .init(name: "squirrel", colour: "grey", home: "forest", food: "nuts", legs: 4),
    .init(name: "moose", colour: "brown", home: "forest", food: "leaves", legs: 4),
    .init(name: "panda", colour: "black and white", home: "forest", food: "bamboo", legs: 4),
    .init(name: "koala", colour: "grey", home: "forest", food: "leaves", legs: 4),
    .init(name: "rabbit", colour: "white", home: "field", food: "carrots", legs: 4),
    .init(name: "mouse", colour: "grey", home: "field", food: "seeds", legs: 4),
    .init(name: "sheep", colour: "white", home: "field", food: "grass", legs: 4),
    .init(name: "goat", colour: "white", home: "mountains", food: "grass", legs: 4),
    .init(name: "eagle", colour: "brown", home: "mountains", food: "fish", legs: 2),
    .init(name: "horse", colour: "brown", home: "barn", food: "hay", legs: 4),
    .init(name: "cow", colour: "black and white", home: "barn", food: "grass", legs: 4),
    .init(name: "pig", colour: "pink", home: "barn", food: "corn", legs: 4),
    .init(name: "hen", colour: "brown", home: "barn", food: "seeds", legs: 2),
    .init(name: "duck", colour: "white", home: "pond", food: "snails", legs: 2),
    .init(name: "frog", colour: "green", home: "pond", food: "flies", legs: 4),
    .init(name: "goose", colour: "white", home: "pond", food: "grass", legs: 2),
    .init(name: "turtle", colour: "green", home: "pond", food: "plants", legs: 4),
    .init(name: "shark", colour: "grey", home: "sea", food: "fish", legs: 0),
    .init(name: "whale", colour: "blue", home: "sea", food: "shrimp", legs: 0),
    .init(name: "dolphin", colour: "grey", home: "sea", food: "fish", legs: 0),
    .init(name: "crab", colour: "red", home: "sea", food: "worms", legs: 10),
    .init(name: "penguin", colour: "black and white", home: "snow", food: "fish", legs: 2),
    .init(name: "polar bear", colour: "white", home: "snow", food: "seals", legs: 4),
    .init(name: "camel", colour: "brown", home: "desert", food: "dates", legs: 4),
    .init(name: "lizard", colour: "green", home: "desert", food: "flies", legs: 4),
    .init(name: "scorpion", colour: "black", home: "desert", food: "insects", legs: 8),
    .init(name: "snake", colour: "green", home: "grass", food: "mice", legs: 0),
    .init(name: "lion", colour: "yellow", home: "grassland", food: "zebras", legs: 4),
    .init(name: "zebra", colour: "black and white", home: "grassland", food: "grass", legs: 4),
    .init(name: "giraffe", colour: "yellow", home: "grassland", food: "leaves", legs: 4),
    .init(name: "elephant", colour: "grey", home: "grassland", food: "plants", legs: 4),
    .init(name: "kangaroo", colour: "brown", home: "grassland", food: "grass", legs: nil),
    .init(name: "hippo", colour: "grey", home: "river", food: "grass", legs: 4),
    .init(name: "crocodile", colour: "green", home: "river", food: "fish", legs: 4),
    .init(name: "otter", colour: "brown", home: "river", food: "fish", legs: 4),
    .init(name: "beaver", colour: "brown", home: "river", food: "bark", legs: 4),
    .init(name: "monkey", colour: "brown", home: "jungle", food: "bananas", legs: nil),
    .init(name: "tiger", colour: "orange", home: "jungle", food: "deer", legs: 4),
    .init(name: "parrot", colour: "green", home: "jungle", food: "seeds", legs: 2),
    .init(name: "gorilla", colour: "black", home: "jungle", food: "leaves", legs: nil),
    .init(name: "bee", colour: "yellow", home: "garden", food: "nectar", legs: 6),
    .init(name: "ant", colour: "black", home: "garden", food: "sugar", legs: 6),
    .init(name: "spider", colour: "black", home: "garden", food: "flies", legs: 8),
    .init(name: "butterfly", colour: "orange", home: "garden", food: "nectar", legs: 6),
    .init(name: "snail", colour: "brown", home: "garden", food: "leaves", legs: 0),
    .init(name: "worm", colour: "pink", home: "garden", food: "dirt", legs: 0),
    .init(name: "cat", colour: "grey", home: "house", food: "fish", legs: 4),
    .init(name: "dog", colour: "brown", home: "house", food: "meat", legs: 4),
    .init(name: "bat", colour: "black", home: "cave", food: "insects", legs: 2),
    .init(name: "flamingo", colour: "pink", home: "lake", food: "shrimp", legs: 2),
    .init(name: "swan", colour: "white", home: "lake", food: "plants", legs: 2),
]

let countries: [Country] = [
    .init(name: "France", capital: "Paris", continent: "Europe", language: "French"),
    .init(name: "Spain", capital: "Madrid", continent: "Europe", language: "Spanish"),
    .init(name: "Italy", capital: "Rome", continent: "Europe", language: "Italian"),
    .init(name: "Germany", capital: "Berlin", continent: "Europe", language: "German"),
    .init(name: "Portugal", capital: "Lisbon", continent: "Europe", language: "Portuguese"),
    .init(name: "Greece", capital: "Athens", continent: "Europe", language: "Greek"),
    .init(name: "Poland", capital: "Warsaw", continent: "Europe", language: "Polish"),
    .init(name: "Sweden", capital: "Stockholm", continent: "Europe", language: "Swedish"),
    .init(name: "Norway", capital: "Oslo", continent: "Europe", language: "Norwegian"),
    .init(name: "Finland", capital: "Helsinki", continent: "Europe", language: "Finnish"),
    .init(name: "Denmark", capital: "Copenhagen", continent: "Europe", language: "Danish"),
    .init(name: "Ireland", capital: "Dublin", continent: "Europe", language: "English"),
    .init(name: "England", capital: "London", continent: "Europe", language: "English"),
    .init(name: "Austria", capital: "Vienna", continent: "Europe", language: "German"),
    .init(name: "Hungary", capital: "Budapest", continent: "Europe", language: "Hungarian"),
    .init(name: "Czechia", capital: "Prague", continent: "Europe", language: "Czech"),
    .init(name: "Ukraine", capital: "Kyiv", continent: "Europe", language: "Ukrainian"),
    .init(name: "Iceland", capital: "Reykjavik", continent: "Europe", language: "Icelandic"),
    .init(name: "Turkey", capital: "Ankara", continent: "Asia", language: "Turkish"),
    .init(name: "Japan", capital: "Tokyo", continent: "Asia", language: "Japanese"),
    .init(name: "China", capital: "Beijing", continent: "Asia", language: "Chinese"),
    .init(name: "India", capital: "New Delhi", continent: "Asia", language: "Hindi"),
    .init(name: "Korea", capital: "Seoul", continent: "Asia", language: "Korean"),
    .init(name: "Thailand", capital: "Bangkok", continent: "Asia", language: "Thai"),
    .init(name: "Vietnam", capital: "Hanoi", continent: "Asia", language: "Vietnamese"),
    .init(name: "Indonesia", capital: "Jakarta", continent: "Asia", language: "Indonesian"),
    .init(name: "Iran", capital: "Tehran", continent: "Asia", language: "Persian"),
    .init(name: "Pakistan", capital: "Islamabad", continent: "Asia", language: "Urdu"),
    .init(name: "Saudi Arabia", capital: "Riyadh", continent: "Asia", language: "Arabic"),
    .init(name: "Egypt", capital: "Cairo", continent: "Africa", language: "Arabic"),
    .init(name: "Morocco", capital: "Rabat", continent: "Africa", language: "Arabic"),
    .init(name: "Kenya", capital: "Nairobi", continent: "Africa", language: "Swahili"),
    .init(name: "Nigeria", capital: "Abuja", continent: "Africa", language: "English"),
    .init(name: "Ghana", capital: "Accra", continent: "Africa", language: "English"),
    .init(name: "Ethiopia", capital: "Addis Ababa", continent: "Africa", language: "Amharic"),
    .init(name: "Senegal", capital: "Dakar", continent: "Africa", language: "French"),
    .init(name: "Canada", capital: "Ottawa", continent: "North America", language: "English"),
    .init(name: "Mexico", capital: "Mexico City", continent: "North America", language: "Spanish"),
    .init(name: "Cuba", capital: "Havana", continent: "North America", language: "Spanish"),
    .init(name: "Jamaica", capital: "Kingston", continent: "North America", language: "English"),
    .init(name: "Brazil", capital: "Brasilia", continent: "South America", language: "Portuguese"),
    .init(name: "Argentina", capital: "Buenos Aires", continent: "South America", language: "Spanish"),
    .init(name: "Peru", capital: "Lima", continent: "South America", language: "Spanish"),
    .init(name: "Chile", capital: "Santiago", continent: "South America", language: "Spanish"),
    .init(name: "Colombia", capital: "Bogota", continent: "South America", language: "Spanish"),
    .init(name: "Australia", capital: "Canberra", continent: "Oceania", language: "English"),
    .init(name: "New Zealand", capital: "Wellington", continent: "Oceania", language: "English"),
]

let fruits: [Fruit] = [
    .init(name: "apple", colour: "red", taste: "sweet", grows: "on a tree"),
    .init(name: "banana", colour: "yellow", taste: "sweet", grows: "on a tree"),
    .init(name: "lemon", colour: "yellow", taste: "sour", grows: "on a tree"),
    .init(name: "lime", colour: "green", taste: "sour", grows: "on a tree"),
    .init(name: "orange", colour: "orange", taste: "sweet", grows: "on a tree"),
    .init(name: "cherry", colour: "red", taste: "sweet", grows: "on a tree"),
    .init(name: "plum", colour: "purple", taste: "sweet", grows: "on a tree"),
    .init(name: "pear", colour: "green", taste: "sweet", grows: "on a tree"),
    .init(name: "peach", colour: "orange", taste: "sweet", grows: "on a tree"),
    .init(name: "mango", colour: "orange", taste: "sweet", grows: "on a tree"),
    .init(name: "coconut", colour: "brown", taste: "sweet", grows: "on a tree"),
    .init(name: "grapefruit", colour: "pink", taste: "sour", grows: "on a tree"),
    .init(name: "grape", colour: "purple", taste: "sweet", grows: "on a vine"),
    .init(name: "watermelon", colour: "green", taste: "sweet", grows: "on a vine"),
    .init(name: "tomato", colour: "red", taste: "sour", grows: "on a vine"),
    .init(name: "pumpkin", colour: "orange", taste: nil, grows: "on a vine"),
    .init(name: "blueberry", colour: "blue", taste: "sweet", grows: "on a bush"),
    .init(name: "raspberry", colour: "red", taste: "sweet", grows: "on a bush"),
    .init(name: "cranberry", colour: "red", taste: "sour", grows: "on a bush"),
    .init(name: "strawberry", colour: "red", taste: "sweet", grows: "on a small plant"),
    .init(name: "pineapple", colour: "yellow", taste: "sweet", grows: "on a small plant"),
    .init(name: "carrot", colour: "orange", taste: nil, grows: "in the ground"),
    .init(name: "potato", colour: "brown", taste: nil, grows: "in the ground"),
    .init(name: "onion", colour: "white", taste: nil, grows: "in the ground"),
]

// MARK: Helpers

/// The library's SplitMix64 (the same stream on every platform), with the draws the texts use.
typealias RNG = SeededGenerator
extension SeededGenerator {
    mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func pick<T>(_ xs: [T]) -> T { xs[int(xs.count)] }
    mutating func shuffled<T>(_ xs: [T]) -> [T] { var c = xs; shuffle(&c); return c }
}

let numberWords = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
func cap(_ s: String) -> String { s.prefix(1).uppercased() + s.dropFirst() }
func an(_ word: String) -> String { "aeiou".contains(word.first!) ? "an \(word)" : "a \(word)" }
func list(_ xs: [String]) -> String {
    xs.count <= 1 ? xs.joined() : xs.dropLast().joined(separator: ", ") + " and " + xs.last!
}

// MARK: The answer sentences (shared by the corpus and the task, so the task asks for known facts)

func colourSentence(_ a: Animal) -> String { "The \(a.name) is \(a.colour)." }
func homeSentence(_ a: Animal) -> String { "The \(a.name) lives in the \(a.home)." }
func foodSentence(_ a: Animal) -> String { "The \(a.name) eats \(a.food)." }
func legsSentence(_ a: Animal) -> String? {
    guard let n = a.legs else { return nil }
    return n == 0 ? "The \(a.name) has no legs." : "The \(a.name) has \(numberWords[n]) legs."
}
func capitalSentence(_ c: Country) -> String { "The capital of \(c.name) is \(c.capital)." }
func continentSentence(_ c: Country) -> String { "\(c.name) is in \(c.continent)." }
func languageSentence(_ c: Country) -> String { "People in \(c.name) speak \(c.language)." }
func fruitColourSentence(_ f: Fruit) -> String { "\(cap(an(f.name))) is \(f.colour)." }
func tasteSentence(_ f: Fruit) -> String? { f.taste.map { "\(cap(an(f.name))) tastes \($0)." } }
func growsSentence(_ f: Fruit) -> String { "\(cap(an(f.name))) grows \(f.grows)." }

// MARK: Corpus documents

func animalParagraph(_ a: Animal, _ r: inout RNG) -> String {
    var s: [String] = []
    s.append(r.pick(["The \(a.name) is an animal.", "This is the \(a.name).", "Let us learn about the \(a.name).",
                     "Here is the \(a.name)."]))
    var facts = [
        r.pick([colourSentence(a), colourSentence(a), "The colour of the \(a.name) is \(a.colour).", "The \(a.name) is \(a.colour) all over."]),
        r.pick([homeSentence(a), homeSentence(a), "You can find the \(a.name) in the \(a.home).", "The home of the \(a.name) is the \(a.home)."]),
        r.pick([foodSentence(a), foodSentence(a), "The \(a.name) likes to eat \(a.food).", "The food of the \(a.name) is \(a.food)."]),
    ]
    if let l = legsSentence(a) { facts.append(l) }
    r.shuffle(&facts)
    s += facts
    if r.int(2) == 0 {
        let friends = animals.filter { $0.home == a.home && $0.name != a.name }.map(\.name)
        if !friends.isEmpty {
            s.append("In the \(a.home), the \(a.name) lives with the \(r.pick(friends)).")
        }
    }
    return s.joined(separator: " ")
}

func countryParagraph(_ c: Country, _ r: inout RNG) -> String {
    var s: [String] = []
    s.append(r.pick(["\(c.name) is a country.", "Let us learn about \(c.name).", "This is \(c.name).", "\(c.name) is a country with many people."]))
    var facts = [
        r.pick([capitalSentence(c), capitalSentence(c), "\(c.capital) is the capital of \(c.name).", "The biggest city of \(c.name) is not always the capital, but the capital is \(c.capital)."]),
        r.pick([continentSentence(c), continentSentence(c), "\(c.name) is a country in \(c.continent).", "You can find \(c.name) in \(c.continent)."]),
        r.pick([languageSentence(c), languageSentence(c), "The people of \(c.name) speak \(c.language).", "In \(c.name), people speak \(c.language)."]),
    ]
    r.shuffle(&facts)
    s += facts
    if r.int(2) == 0 { s.append("\(c.capital) is a city in \(c.continent).") }
    return s.joined(separator: " ")
}

func fruitParagraph(_ f: Fruit, _ r: inout RNG) -> String {
    var s: [String] = []
    let kind = f.taste == nil ? "vegetable" : "fruit"
    s.append(r.pick(["\(cap(an(f.name))) is \(an(kind)).", "Let us learn about the \(f.name).", "The \(f.name) is \(an(kind)) that people eat."]))
    var facts = [
        r.pick([fruitColourSentence(f), fruitColourSentence(f), "The colour of \(an(f.name)) is \(f.colour)."]),
        r.pick([growsSentence(f), growsSentence(f), "The \(f.name) grows \(f.grows)."]),
    ]
    if let t = tasteSentence(f) { facts.append(r.pick([t, t, "The \(f.name) has a \(f.taste!) taste."])) }
    r.shuffle(&facts)
    s += facts
    return s.joined(separator: " ")
}

func groupParagraph(_ r: inout RNG) -> String {
    switch r.int(6) {
    case 0:
        let home = r.pick(Array(Set(animals.map(\.home))).sorted())
        let names = r.shuffled(animals.filter { $0.home == home }).prefix(4).map { "the \($0.name)" }
        return "Many animals live in the \(home). " + (names.count > 1 ? "\(cap(list(names))) all live there." : "\(cap(names[0])) lives there.")
            + " " + names.map { n in "\(cap(n)) lives in the \(home)." }.joined(separator: " ")
    case 1:
        let colour = r.pick(["brown", "grey", "white", "green", "black", "red", "yellow", "pink", "orange"])
        let names = r.shuffled(animals.filter { $0.colour == colour }).prefix(4).map(\.name)
        return "Some animals are \(colour). " + names.map { "The \($0) is \(colour)." }.joined(separator: " ")
    case 2:
        let continent = r.pick(["Europe", "Asia", "Africa", "North America", "South America", "Oceania"])
        let cs = r.shuffled(countries.filter { $0.continent == continent }).prefix(4)
        return "There are many countries in \(continent). " + cs.map { "\(continentSentence($0)) \(capitalSentence($0))" }.joined(separator: " ")
    case 3:
        let cs = r.shuffled(countries).prefix(3)
        return cs.map { "\(languageSentence($0))" }.joined(separator: " ") + " People speak many languages in the world."
    case 4:
        let fs = r.shuffled(fruits).prefix(3)
        return "Here are some things to eat. " + fs.map { f in [fruitColourSentence(f), growsSentence(f)].joined(separator: " ") }.joined(separator: " ")
    default:
        let a = r.pick(animals), b = r.pick(animals.filter { $0.name != a.name })
        return "The \(a.name) and the \(b.name) are different. \(colourSentence(a)) \(colourSentence(b)) \(foodSentence(a)) \(foodSentence(b))"
    }
}

let people = ["Anna", "Tom", "Lucy", "Sam", "Mia", "Ben", "Emma", "Leo", "Sara", "Max", "Nina", "Jack"]

func story(_ r: inout RNG) -> String {
    let p = r.pick(people)
    let he = ["Anna", "Lucy", "Mia", "Emma", "Sara", "Nina"].contains(p) ? "she" : "he"
    let his = he == "she" ? "her" : "his"
    switch r.int(3) {
    case 0:
        let a = r.pick(animals)
        let place = a.home == "house" ? "the house of \(his) friend" : "the \(a.home)"
        return "One day, \(p) went to \(place). There \(he) saw the \(a.name). \(colourSentence(a)) \(cap(he)) watched it for a long time. "
            + "\(foodSentence(a)) \(p) went home and told \(his) mother about the \(a.name)."
    case 1:
        let c = r.pick(countries)
        return "\(p) wanted to visit \(c.name). \(continentSentence(c)) \(cap(he)) took a plane to \(c.capital). "
            + "\(capitalSentence(c)) \(languageSentence(c)) \(p) learned to say hello in \(c.language). It was a good trip."
    default:
        let f = r.pick(fruits)
        let t = f.taste.map { " It tasted \($0)." } ?? ""
        return "\(p) was hungry. \(cap(he)) found \(an(f.name)) in the kitchen. \(fruitColourSentence(f))\(t) "
            + "\(growsSentence(f)) \(p) ate the \(f.name) and was happy."
    }
}

// MARK: Dialogues (general chat, never the task's question style)

func message(_ role: String, _ content: String) -> JSONValue { .object(["role": .string(role), "content": .string(content)]) }
func chat(_ turns: [(String, String)]) -> String {
    JSONValue.object(["messages": .array(turns.map { message($0.0, $0.1) })]).serialized(options: JSONSerializationOptions(ensureASCII: false))
}

func dialogue(_ r: inout RNG) -> String {
    switch r.int(6) {
    case 0:
        return chat([("user", r.pick(["Hello!", "Hi.", "Hello.", "Good morning!", "Hi there!"])),
                     ("assistant", r.pick(["Hello! I know about animals, countries and fruit.", "Hi! What would you like to talk about?",
                                           "Hello! How can I help you today?"]))])
    case 1, 2:
        let a = r.pick(animals)
        return chat([("user", r.pick(["Tell me about the \(a.name).", "Say something about the \(a.name).", "I like the \(a.name)."])),
                     ("assistant", animalParagraph(a, &r))])
    case 3:
        let c = r.pick(countries)
        return chat([("user", r.pick(["Tell me about \(c.name).", "Say something about \(c.name)."])), ("assistant", countryParagraph(c, &r))])
    case 4:
        let f = r.pick(fruits)
        return chat([("user", r.pick(["Tell me about the \(f.name).", "I ate \(an(f.name)) today."])), ("assistant", fruitParagraph(f, &r))])
    default:
        return chat([("user", "Tell me a story."), ("assistant", story(&r))])
    }
}

// MARK: The task: a question → one short sentence

func taskItems() -> [(question: String, answer: String)] {
    var out: [(String, String)] = []
    for a in animals {
        out.append(("What colour is the \(a.name)?", colourSentence(a)))
        out.append(("Where does the \(a.name) live?", homeSentence(a)))
        out.append(("What does the \(a.name) eat?", foodSentence(a)))
        if let l = legsSentence(a) { out.append(("How many legs does the \(a.name) have?", l)) }
    }
    for c in countries {
        out.append(("What is the capital of \(c.name)?", capitalSentence(c)))
        out.append(("Where is \(c.name)?", continentSentence(c)))
        out.append(("What language do people speak in \(c.name)?", languageSentence(c)))
    }
    for f in fruits {
        out.append(("What colour is \(an(f.name))?", fruitColourSentence(f)))
        if let t = tasteSentence(f) { out.append(("How does \(an(f.name)) taste?", t)) }
        out.append(("Where does \(an(f.name)) grow?", growsSentence(f)))
    }
    return out
}

// MARK: Main

var root = URL(fileURLWithPath: "..")
if let i = CommandLine.arguments.firstIndex(of: "--root"), i + 1 < CommandLine.arguments.count {
    root = URL(fileURLWithPath: CommandLine.arguments[i + 1])
}
let datasets = root.appendingPathComponent("Datasets")
let fm = FileManager.default
for sub in ["corpus", "default-task"] {
    try fm.createDirectory(at: datasets.appendingPathComponent(sub), withIntermediateDirectories: true)
}

var rng = RNG(seed: 20_240_601)
var documents: [String] = []
for _ in 0..<5 {
    for a in animals { documents.append(animalParagraph(a, &rng)) }
    for c in countries { documents.append(countryParagraph(c, &rng)) }
    for f in fruits { documents.append(fruitParagraph(f, &rng)) }
}
for _ in 0..<220 { documents.append(groupParagraph(&rng)) }
for _ in 0..<320 { documents.append(story(&rng)) }
rng.shuffle(&documents)
let corpus = documents.joined(separator: "\n\n") + "\n"
try corpus.write(to: datasets.appendingPathComponent("corpus/corpus.txt"), atomically: true, encoding: .utf8)

var dialogues: [String] = []
for _ in 0..<450 { dialogues.append(dialogue(&rng)) }
try (dialogues.joined(separator: "\n") + "\n").write(to: datasets.appendingPathComponent("corpus/dialogues.jsonl"), atomically: true, encoding: .utf8)

var items = taskItems()
rng.shuffle(&items)
let validCount = 50
let lines = items.map { chat([("user", $0.question), ("assistant", $0.answer)]) }
try (lines[validCount...].joined(separator: "\n") + "\n").write(to: datasets.appendingPathComponent("default-task/train.jsonl"), atomically: true, encoding: .utf8)
try (lines[..<validCount].joined(separator: "\n") + "\n").write(to: datasets.appendingPathComponent("default-task/valid.jsonl"), atomically: true, encoding: .utf8)

print("corpus: \(documents.count) documents, \(corpus.utf8.count) bytes")
print("dialogues: \(dialogues.count), \(dialogues.reduce(0) { $0 + $1.utf8.count + 1 }) bytes")
print("task: \(items.count - validCount) train, \(validCount) valid")
