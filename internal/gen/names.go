package gen

import "strconv"

// Team names follow Beam's mobile-gaming injector: a colour and an animal.
var (
	colours = []string{
		"Amber", "AliceBlue", "Apricot", "Aquamarine", "Azure", "Beige", "Bisque",
		"BlanchedAlmond", "Bronze", "Burgundy", "Cerulean", "Champagne", "Chartreuse",
		"Coral", "Crimson", "Cyan", "Emerald", "Fuchsia", "Gold", "Indigo", "Ivory",
		"Jade", "Khaki", "Lavender", "Magenta", "Mauve", "Ochre", "Olive", "Orchid",
		"Peach", "Periwinkle", "Rose", "Saffron", "Sapphire", "Scarlet", "Teal",
		"Turquoise", "Vermilion", "Violet", "Viridian",
	}
	animals = []string{
		"Dingo", "Wombat", "Echidna", "Kangaroo", "Platypus", "Quokka", "Numbat",
		"Bandicoot", "Cassowary", "Dugong", "Emu", "Kookaburra", "Lyrebird", "Possum",
		"Wallaby", "Koala", "Bilby", "Cockatoo", "Galah", "Bettong", "Quoll", "Potoroo",
		"Pademelon", "Taipan", "Marlin", "Narwhal", "Ocelot", "Pangolin", "Tapir",
		"Axolotl", "Capybara", "Okapi",
	}
)

// TeamName is the name of team t (0-based): "AmberDingo", "AliceBlueWombat",
// …, with a numeric suffix once the colour×animal pairs run out. It does not
// depend on the seed, so runs with different seeds share teams.
func TeamName(t int) string {
	n := len(colours) * len(animals)
	// Step through colours and animals together so that neighbouring teams
	// differ in both words.
	i := t % n
	name := colours[i%len(colours)] + animals[(i+i/len(colours))%len(animals)]
	if t >= n {
		name += strconv.Itoa(t / n)
	}
	return name
}

// UserName is the name of user u (0-based), who plays in team u mod teams:
// "user<u>_<team name>", as in Beam's mobile-gaming data.
func UserName(u, teams int) string {
	return string(appendUserName(nil, u, TeamName(u%teams)))
}

func appendUserName(b []byte, u int, team string) []byte {
	b = append(b, "user"...)
	b = strconv.AppendInt(b, int64(u), 10)
	b = append(b, '_')
	return append(b, team...)
}
