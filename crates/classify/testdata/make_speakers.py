# Spans of hostile or collectively labelling text with who voices them and whom they
# target, written for the mediawatch project (CC0). Fictional people and statements.
# `split`: dev items shaped the rules; test items are only measured.
import json
rows = []
def add(split, lang, kind, text, cue, role, speaker, targets):
    assert cue in text, cue
    rows.append(dict(split=split, lang=lang, kind=kind, text=text, cue=cue, role=role,
                     speaker=speaker, targets=targets))

# ---- dev
add("dev","en","article","Migrants are flooding our towns, the mayor Tom Reed said on Monday.","Migrants are flooding","quoted","Tom Reed",["migrants"])
add("dev","en","article","\"They are all criminals,\" said party leader Anna Kovac at the rally.","They are all criminals","quoted","Anna Kovac",["migrants"])
add("dev","en","article","The wave of migrants keeps rising, and the town is losing patience.","wave of migrants","outlet",None,["migrants"])
add("dev","en","article","According to police, these people are a threat to the border villages.","these people","quoted",None,["migrants"])
add("dev","en","comment","Send them all back, journalists who defend them are traitors.","journalists who defend them are traitors","commenter",None,["journalists"])
add("dev","sr","article","Migranti su napast za naše selo, rekao je odbornik Milan Jović.","Migranti su napast","quoted","Milan Jović",["migrants"])
add("dev","sr","article","„Svi oni su isti, dolaze da nam uzmu posao“, izjavio je Petar Ilić.","Svi oni su isti","quoted","Petar Ilić",["migrants"])
add("dev","sr","article","Talas migranata preplavio je Subotičku opštinu ove jeseni.","Talas migranata","outlet",None,["migrants"])
add("dev","sr","article","Мигранти су најезда, каже председник странке Драган Марић.","Мигранти су најезда","quoted","Драган Марић",["migrants"])
add("dev","bs","comment","Ovi migranti i njihovi volonteri iz nevladinih organizacija su isti paraziti.","isti paraziti","commenter",None,["migrants","aid_workers"])
add("dev","hr","article","Hordes of migrants? Ne, ovo je tekst o hordi turista na Jadranu.","Hordes of migrants","outlet",None,["migrants"])
add("dev","mk","article","Мигрантите се закана за нашата држава, изјави пратеникот Зоран Стојанов.","Мигрантите се закана","quoted","Зоран Стојанов",["migrants"])
add("dev","mk","article","Нов бран мигранти ја преплави Гевгелија.","Нов бран мигранти","outlet",None,["migrants"])
add("dev","pl","article","Ci imigranci to najeźdźcy, powiedział poseł Jan Nowak.","Ci imigranci to najeźdźcy","quoted","Jan Nowak",["migrants"])
add("dev","pl","article","Fala nielegalnych imigrantów zalewa granicę.","Fala nielegalnych imigrantów","outlet",None,["migrants"])
add("dev","hu","article","A migránsok inváziója fenyegeti Európát – mondta Kovács Béla képviselő.","migránsok inváziója","quoted","Kovács Béla",["migrants"])
add("dev","hu","article","Orbán szerint a migránsok mind terroristák.","a migránsok mind terroristák","quoted","Orbán",["migrants"])
add("dev","de","article","Die Flüchtlinge sind eine Welle, die uns überrollt, sagte der AfD-Politiker Klaus Berg.","Die Flüchtlinge sind eine Welle","quoted","Klaus Berg",["migrants"])
add("dev","sq","article","Emigrantët janë një pushtim, tha deputeti Arben Hoxha.","Emigrantët janë një pushtim","quoted","Arben Hoxha",["migrants"])
add("dev","en","post","Roma and migrants are ruining this country.","Roma and migrants are ruining","author",None,["roma","migrants"])
add("dev","sr","comment","Te novinare i aktiviste koji brane migrante treba proterati.","Te novinare i aktiviste","commenter",None,["journalists","activists","migrants"])
add("dev","en","article","Aid workers are smugglers in disguise, the minister told reporters.","Aid workers are smugglers","quoted",None,["aid_workers"])

# ---- test
add("test","en","article","These migrants are an invasion, councillor Mark Hill told the meeting.","These migrants are an invasion","quoted","Mark Hill",["migrants"])
add("test","en","article","A flood of refugees is heading for the coast this summer.","A flood of refugees","outlet",None,["migrants"])
add("test","en","article","\"Refugees bring disease,\" claimed the candidate, Peter Grey.","Refugees bring disease","quoted","Peter Grey",["migrants"])
add("test","en","comment","Muslims and migrants out, all of them.","all of them","commenter",None,["muslims","migrants"])
add("test","sr","article","Izbeglice su bomba koja otkucava, tvrdi poslanik Nenad Lazić.","Izbeglice su bomba","quoted","Nenad Lazić",["migrants"])
add("test","sr","article","Horde migranata svake noći prolaze kroz selo.","Horde migranata","outlet",None,["migrants"])
add("test","sr","article","„Ti ljudi nisu kao mi“, rekla je predsednica udruženja Jelena Savić.","Ti ljudi nisu kao mi","quoted","Jelena Savić",["migrants"])
add("test","bs","article","Migranti su prijetnja, navodi se u saopćenju stranke.","Migranti su prijetnja","quoted",None,["migrants"])
add("test","hr","comment","Novinari koji pišu o migrantima su plaćenici.","Novinari koji pišu o migrantima su plaćenici","commenter",None,["journalists","migrants"])
add("test","mk","article","Бегалците се опасност, рече градоначалникот Горан Трајков.","Бегалците се опасност","quoted","Горан Трајков",["migrants"])
add("test","bg","article","Мигрантите са нашествие, заяви депутатът Иван Петров.","Мигрантите са нашествие","quoted","Иван Петров",["migrants"])
add("test","bg","article","Вълна от мигранти залива границата.","Вълна от мигранти","outlet",None,["migrants"])
add("test","pl","article","Według posła Adama Zielińskiego uchodźcy to zagrożenie.","uchodźcy to zagrożenie","quoted",None,["migrants"])
add("test","pl","comment","Wolontariusze pomagający uchodźcom to zdrajcy.","Wolontariusze pomagający uchodźcom to zdrajcy","commenter",None,["aid_workers","migrants"])
add("test","cs","article","Uprchlíci jsou invaze, řekl poslanec Karel Dvořák.","Uprchlíci jsou invaze","quoted","Karel Dvořák",["migrants"])
add("test","sk","article","Migranti sú hrozba, povedal poslanec Peter Horváth.","Migranti sú hrozba","quoted","Peter Horváth",["migrants"])
add("test","hu","article","A menekültek áradata elárasztja a határt.","menekültek áradata","outlet",None,["migrants"])
add("test","de","article","Laut dem Bürgermeister sind die Asylbewerber eine Last.","die Asylbewerber eine Last","quoted",None,["migrants"])
add("test","sq","article","Refugjatët janë rrezik, tha kryetari i bashkisë Ilir Shehu.","Refugjatët janë rrezik","quoted","Ilir Shehu",["migrants"])
add("test","sl","article","Begunci so nevarnost, je dejal poslanec Janez Novak.","Begunci so nevarnost","quoted","Janez Novak",["migrants"])
add("test","en","post","Activists helping migrants should be jailed.","Activists helping migrants should be jailed","author",None,["activists","migrants"])
add("test","it","article","I migranti sono un'invasione, ha detto il senatore Marco Rossi.","I migranti sono un'invasione","quoted","Marco Rossi",["migrants"])

with open("speakers.jsonl","w",encoding="utf-8") as f:
    for r in rows:
        f.write(json.dumps(r, ensure_ascii=False)+"\n")
print(len(rows), "rows")
