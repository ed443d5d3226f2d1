# Wrote the first 61 lines of incidents.jsonl (12 more dev lines, denser distractors and
# one more dev event, were appended afterwards, before any threshold was chosen again): news items written for the mediawatch project (CC0),
# fictional events in real places, several outlets and languages per event.
# `incident` is the gold label (null: a story of its own); `split` keeps the
# items used to choose thresholds (dev) apart from those reported (test).
import json
items = []
def add(split, incident, source, lang, published, title, text):
    items.append(dict(id=f"{source}-{len(items)+1:03d}", split=split, incident=incident,
                      source=source, lang=lang, published=published, title=title, text=text))

# ---- dev incidents
add("dev","d1","n1","sr","2026-10-03T08:10:00Z","Čamac sa migrantima prevrnuo se na Drini kod Zvornika",
    "Policija je kod Zvornika izvukla iz Drine dvanaest migranata nakon što se njihov čamac prevrnuo u noći. Dvoje se vode kao nestali.")
add("dev","d1","klix","bs","2026-10-03T09:30:00Z","Zvornik: Nestalo dvoje migranata nakon prevrtanja čamca na Drini",
    "Spasioci i dalje tragaju za dvoje ljudi koji su nestali kada se čamac sa dvanaest migranata prevrnuo na Drini kod Zvornika.")
add("dev","d1","balkan-insight","en","2026-10-03T14:00:00Z","Two missing after migrant boat capsizes on Drina near Zvornik",
    "Rescuers near Zvornik pulled twelve people from the Drina river after their boat capsized overnight; two remain missing.")
add("dev","d1","alo","sr","2026-10-04T07:00:00Z","Нова тура миграната преко Дрине, чамац потонуо код Зворника",
    "Мигранти опет покушавају да пређу Дрину; код Зворника се преврнуо чамац, полиција извукла дванаест особа.")

add("dev","d2","index-hr","hr","2026-10-07T10:00:00Z","Na graničnom prijelazu Bajakovo pronađeno 30 migranata u kamionu",
    "Carinici na Bajakovu pronašli su trideset migranata skrivenih u kamionu s turskim tablicama. Vozač je uhićen.")
add("dev","d2","jutarnji","hr","2026-10-07T12:20:00Z","Bajakovo: u kamionu s turskim tablicama skrivalo se trideset ljudi",
    "Granična policija otkrila je trideset ljudi u teretnom prostoru kamiona na prijelazu Bajakovo; među njima je i šestero djece.")
add("dev","d2","n1","sr","2026-10-07T15:00:00Z","Na Bajakovu u kamionu otkriveno 30 migranata, uhapšen vozač",
    "Hrvatska policija na prelazu Bajakovo uhapsila je vozača kamiona u kojem je bilo sakriveno trideset migranata.")

add("dev","d3","mia","mk","2026-10-12T09:00:00Z","Гевгелија: запленет комбе со 18 мигранти",
    "Полицијата кај Гевгелија запре комбе во кое имало осумнаесет мигранти; возачот е приведен.")
add("dev","d3","sitel","mk","2026-10-12T11:00:00Z","Нов бран мигранти кај Гевгелија, полицијата запре комбе",
    "Уште еден бран мигранти кај Гевгелија: во комбе биле натрупани осумнаесет лица, возачот е приведен.")
add("dev","d3","balkan-insight","en","2026-10-12T16:00:00Z","North Macedonia police stop van with 18 migrants near Gevgelija",
    "Police near Gevgelija stopped a van carrying eighteen migrants and detained the driver, the interior ministry said.")

add("dev","d4","hvg","hu","2026-10-15T08:00:00Z","Röszkénél összecsapás a kerítésnél, két rendőr megsérült",
    "Röszkénél a határkerítésnél dulakodás tört ki, két rendőr könnyebben megsérült, tizenegy embert őrizetbe vettek.")
add("dev","d4","magyar-nemzet","hu","2026-10-15T09:10:00Z","Migránsok támadtak rendőrökre Röszkénél",
    "Erőszakos migránsok támadtak a határvédelemre Röszkénél; két rendőr megsérült, tizenegy migránst elfogtak.")
add("dev","d4","dw","de","2026-10-15T13:00:00Z","Zusammenstoß am ungarischen Grenzzaun bei Röszke",
    "Bei Röszke kam es am Grenzzaun zu einem Handgemenge; zwei Polizisten wurden leicht verletzt, elf Menschen festgenommen.")

add("dev","d5","klix","bs","2026-10-20T10:00:00Z","Kamp Lipa: požar u jednom od kontejnera, niko nije povrijeđen",
    "U kampu Lipa kod Bihaća izbio je požar u stambenom kontejneru; vatrogasci su ga brzo ugasili i niko nije povrijeđen.")
add("dev","d5","n1","bs","2026-10-20T11:15:00Z","Požar u kampu Lipa kod Bihaća",
    "Vatrogasci iz Bihaća ugasili su požar koji je izbio u kontejneru u kampu Lipa. Povrijeđenih nema.")

add("dev","d6","wp","pl","2026-10-22T07:30:00Z","Grupa cudzoziemców sforsowała zaporę na granicy z Białorusią",
    "Straż Graniczna poinformowała, że w nocy grupa około czterdziestu cudzoziemców sforsowała zaporę w rejonie Białowieży.")
add("dev","d6","onet","pl","2026-10-22T09:00:00Z","Białowieża: czterdzieści osób przekroczyło zaporę",
    "W rejonie Białowieży około czterdziestu osób przekroczyło zaporę na granicy z Białorusią; część zatrzymano.")
add("dev","d6","dw","de","2026-10-22T12:00:00Z","Rund 40 Migranten überwinden Grenzzaun bei Białowieża",
    "An der polnisch-belarussischen Grenze bei Białowieża haben rund vierzig Menschen den Zaun überwunden, teilt der Grenzschutz mit.")

add("dev","d7","top-channel","sq","2026-10-25T09:00:00Z","Prizren: familja siriane hap furrë buke në qendër",
    "Një familje siriane që jeton në Prizren prej tre vitesh ka hapur një furrë buke në qendër të qytetit.")
add("dev","d7","koha","sq","2026-10-25T14:00:00Z","Furra e familjes siriane në Prizren, e mbushur që ditën e parë",
    "Në ditën e parë, furra e hapur nga familja siriane në qendër të Prizrenit ishte plot me blerës.")

add("dev","d8","balkan-insight","en","2026-10-28T10:00:00Z","Serbian minister says asylum centres will close in 2027",
    "Serbia's labour minister said on Tuesday that four asylum centres, including Obrenovac and Krnjača, will close in 2027.")
add("dev","d8","n1","sr","2026-10-28T11:00:00Z","Ministar: četiri centra za azil biće zatvorena 2027.",
    "Ministar rada izjavio je da će četiri centra za azil, među njima Obrenovac i Krnjača, biti zatvorena 2027. godine.")
add("dev","d8","informer","sr","2026-10-28T13:00:00Z","Конечно! Затварају се центри за мигранте у Обреновцу и Крњачи",
    "Министар је најавио да ће се центри у Обреновцу и Крњачи затворити 2027; грађани одахнули.")

# dev singletons: same places or event types, other events
add("dev",None,"n1","sr","2026-10-10T09:00:00Z","Zvornik: počela obnova mosta na Drini",
    "U Zvorniku je počela obnova starog mosta na Drini; radovi će trajati do proleća.")
add("dev",None,"klix","bs","2026-10-27T09:00:00Z","Bihać: volonteri donirali zimsku odjeću migrantima u kampu Lipa",
    "Volonteri iz Bihaća donirali su zimsku odjeću i obuću ljudima smještenim u kampu Lipa.")
add("dev",None,"mia","mk","2026-10-26T10:00:00Z","Гевгелија: фестивал на виното го собра целиот град",
    "Годишниот фестивал на виното во Гевгелија привлече илјадници посетители.")
add("dev",None,"hvg","hu","2026-10-30T08:00:00Z","Szegeden tüntettek a menekültek jogaiért",
    "Több száz ember vonult Szeged utcáin a menekültek jogaiért és a tisztességes menekültügyi eljárásért.")
add("dev",None,"index-hr","hr","2026-10-21T08:00:00Z","Bajakovo: kolona kamiona duga deset kilometara",
    "Na graničnom prijelazu Bajakovo kamioni čekaju i do osam sati; kolona je duga deset kilometara.")
add("dev",None,"onet","pl","2026-10-29T08:00:00Z","Białowieża: turyści wracają do puszczy",
    "Po sezonie letnim turyści znów odwiedzają Puszczę Białowieską; rośnie liczba noclegów.")
add("dev",None,"balkan-insight","en","2026-10-05T08:00:00Z","Migrant boat capsizes off Lesbos, five rescued",
    "Greek coastguard rescued five people after a small boat capsized off Lesbos early on Sunday.")

# ---- test incidents
add("test","t1","n1","sr","2026-11-02T08:00:00Z","Subotica: policija pronašla 25 migranata u napuštenoj fabrici",
    "Policija je u napuštenoj fabrici na periferiji Subotice pronašla dvadeset pet migranata, među njima i četvoro dece.")
add("test","t1","alo","sr","2026-11-02T10:00:00Z","Хорда миграната у напуштеној фабрици у Суботици",
    "Читава хорда миграната пронађена је у напуштеној фабрици у Суботици; мештани страхују.")
add("test","t1","balkan-insight","en","2026-11-02T15:00:00Z","Police find 25 migrants, four of them children, in abandoned Subotica factory",
    "Serbian police found twenty-five migrants, including four children, sheltering in an abandoned factory on the outskirts of Subotica.")
add("test","t1","hvg","hu","2026-11-02T17:00:00Z","Szabadkán huszonöt migránst találtak egy elhagyott gyárban",
    "A szerb rendőrség Szabadka szélén egy elhagyott gyárban huszonöt migránst talált, köztük négy gyereket.")

add("test","t2","mia","mk","2026-11-05T09:00:00Z","Куманово: 40 бегалци вработени во текстилна фабрика",
    "Во Куманово четириесет бегалци добија работа во текстилна фабрика преку програмата за вработување.")
add("test","t2","sitel","mk","2026-11-05T12:00:00Z","Програма за вработување: бегалци работат во фабрика во Куманово",
    "Текстилната фабрика во Куманово вработи четириесет бегалци; сопственикот вели дека програмата успеала.")
add("test","t2","balkan-insight","en","2026-11-06T09:00:00Z","Kumanovo textile factory hires 40 refugees under job scheme",
    "A textile factory in Kumanovo has hired forty refugees through a national employment programme, its owner said.")

add("test","t3","dw","de","2026-11-09T08:00:00Z","Wahlplakat in Szeged spricht von 'Invasion'",
    "In Szeged sorgt ein Wahlplakat einer Kleinpartei für Empörung, das von einer 'Invasion' durch Migranten spricht.")
add("test","t3","hvg","hu","2026-11-09T09:00:00Z","Felháborodást keltett egy szegedi választási plakát",
    "Egy kispárt szegedi plakátja, amely migráns 'invázióról' beszél, felháborodást váltott ki.")
add("test","t3","magyar-nemzet","hu","2026-11-09T10:00:00Z","Szegedi plakát: igazat mond az invázióról",
    "A szegedi plakát csak kimondja, amit mindenki lát: zajlik a migráns invázió.")

add("test","t4","top-channel","sq","2026-11-12T09:00:00Z","Tragjedi në det: tre fëmijë mbyten pranë Durrësit",
    "Tre fëmijë humbën jetën kur një varkë me emigrantë u përmbys pranë Durrësit natën e kaluar.")
add("test","t4","koha","sq","2026-11-12T11:00:00Z","Durrës: varka me emigrantë përmbyset, vdesin tre fëmijë",
    "Policia e Durrësit njoftoi se tre fëmijë vdiqën pasi varka me emigrantë u përmbys afër bregut.")
add("test","t4","balkan-insight","en","2026-11-12T14:00:00Z","Three children drown as migrant boat overturns near Durres",
    "Three children died when a boat carrying migrants overturned near Durres overnight, Albanian police said.")

add("test","t5","index-hr","hr","2026-11-15T08:00:00Z","Cetinje: obitelji primaju izbjeglice u svoje domove",
    "U Cetinju dvadeset obitelji primilo je izbjeglice u svoje domove u okviru programa smještaja u obiteljima.")
add("test","t5","vijesti","cnr","2026-11-15T10:00:00Z","Cetinjske porodice otvorile domove izbjeglicama",
    "Dvadeset porodica sa Cetinja primilo je izbjeglice u svoje domove; program smještaja u porodicama pokazao je rezultate.")

add("test","t6","wp","pl","2026-11-18T08:00:00Z","Straż Graniczna: 12 osób zatrzymanych pod Krynkami",
    "Pod Krynkami Straż Graniczna zatrzymała dwanaście osób, które przekroczyły granicę z Białorusią.")
add("test","t6","onet","pl","2026-11-18T10:30:00Z","Krynki: zatrzymano dwanaście osób po przekroczeniu granicy",
    "Dwanaście osób zatrzymano w okolicach Krynek po nielegalnym przekroczeniu granicy z Białorusią.")
add("test","t6","tvp","pl","2026-11-18T12:00:00Z","Kolejny szturm na granicę pod Krynkami",
    "Kolejna fala nielegalnych imigrantów pod Krynkami; funkcjonariusze zatrzymali dwanaście osób.")

add("test","t7","klix","bs","2026-11-20T09:00:00Z","Velika Kladuša: migranti pretučeni na granici, tvrdi Crveni križ",
    "Crveni križ u Velikoj Kladuši liječio je osmoricu migranata koji tvrde da su ih pretukli policajci na hrvatskoj granici.")
add("test","t7","balkan-insight","en","2026-11-20T15:00:00Z","Red Cross treats eight migrants who say they were beaten at Croatian border",
    "The Red Cross in Velika Kladusa treated eight migrants who said Croatian police beat them at the border.")
add("test","t7","index-hr","hr","2026-11-20T16:00:00Z","MUP odbacuje tvrdnje o premlaćivanju migranata kod Velike Kladuše",
    "Ministarstvo unutarnjih poslova odbacilo je tvrdnje Crvenog križa da su policajci pretukli migrante kod Velike Kladuše.")

add("test","t8","n1","sr","2026-11-24T10:00:00Z","Sombor: škola upisala dvadeset dece izbeglica",
    "Osnovna škola u Somboru upisala je dvadeset dece izbeglica iz Avganistana i Sirije; nastava počinje u ponedeljak.")
add("test","t8","alo","sr","2026-11-24T12:00:00Z","Деца миграната у сомборској школи, родитељи незадовољни",
    "У основну школу у Сомбору уписано је двадесет деце миграната; део родитеља негодује.")

# test singletons
add("test",None,"n1","sr","2026-11-03T08:00:00Z","Subotica: otvorena nova fabrika auto-delova",
    "U Subotici je otvorena nova fabrika auto-delova koja će zaposliti tri stotine radnika.")
add("test",None,"mia","mk","2026-11-19T09:00:00Z","Куманово: нова програма за вработување на млади",
    "Општина Куманово започна нова програма за вработување на млади до триесет години.")
add("test",None,"hvg","hu","2026-11-25T08:00:00Z","Szegeden új híd épül a Tiszán",
    "Szegeden megkezdődött egy új Tisza-híd építése, amely 2028-ra készül el.")
add("test",None,"top-channel","sq","2026-11-28T09:00:00Z","Durrës: sezoni turistik mbyllet me rekord",
    "Durrësi mbylli sezonin turistik me një rekord të ri vizitorësh.")
add("test",None,"balkan-insight","en","2026-11-13T08:00:00Z","Migrant boat rescued off Lampedusa, all 40 safe",
    "Italian coastguard rescued forty people from a drifting boat off Lampedusa; all are safe.")
add("test",None,"wp","pl","2026-11-27T08:00:00Z","Krynki: nowe przedszkole dla dzieci z gminy",
    "W Krynkach otwarto nowe przedszkole dla dzieci z całej gminy.")
add("test",None,"klix","bs","2026-11-10T09:00:00Z","Velika Kladuša: migranti napustili privremeni kamp",
    "Migranti su napustili privremeni kamp u Velikoj Kladuši nakon što je općina zatvorila objekat.")
add("test",None,"index-hr","hr","2026-11-16T08:00:00Z","Cetinje: otvoren festival filma",
    "Na Cetinju je otvoren festival dokumentarnog filma.")

with open("incidents.jsonl", "w", encoding="utf-8") as f:
    for it in items:
        f.write(json.dumps(it, ensure_ascii=False) + "\n")
print(len(items), "items")
