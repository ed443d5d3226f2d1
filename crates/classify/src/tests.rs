//! Behaviour tests: one positive and one negative case per label for every
//! covered language (BCMS in both scripts), the hard cases (negation,
//! condemnation, quoted hate, literal "waves", individual stories), evidence
//! offsets into the original text, and robustness on odd input.

use std::sync::Arc;

use crate::lexicon::Kind;
use crate::{guess_language, Classifier, ClassifyInput, LexiconClassifier};
use mediawatch_core::labels::{CueType, HateClass, Labels, LanguageSupport};

/// Example sentences for one language. `neutral` is about migration without
/// labelling, hate or framing; the others each carry one label.
struct Case {
    lang: &'static str,
    off_topic: &'static str,
    neutral: &'static str,
    collective: &'static str,
    hate: &'static str,
    threat: &'static str,
    victim: &'static str,
    recognition: &'static str,
    solutions: &'static str,
}

const CASES: &[Case] = &[
    Case {
        lang: "en",
        off_topic: "The city council approved the new budget for road repairs on Tuesday.",
        neutral: "The ministry published new figures on asylum applications from refugees this year.",
        collective: "A wave of migrants is heading to Europe.",
        hate: "These migrants are vermin.",
        threat: "Police say the migrants brought crime and terror to the town.",
        victim: "Dozens of refugees drowned when their boat capsized.",
        recognition: "Ahmad, 24, a refugee from Aleppo, said he now works as a nurse.",
        solutions: "Since it started in 2021, the mentoring programme has helped 300 refugees find jobs, an evaluation shows.",
    },
    Case {
        lang: "hr",
        off_topic: "Gradsko vijeće usvojilo je novi proračun za popravak cesta.",
        neutral: "Ministarstvo je objavilo nove podatke o zahtjevima za azil koje su podnijele izbjeglice.",
        collective: "Novi val migranata stiže na granicu.",
        hate: "Ti migranti su gamad i paraziti.",
        threat: "Policija kaže da migranti donose kriminal i nasilje u grad.",
        victim: "Desetine izbjeglica utopilo se kada se čamac prevrnuo.",
        recognition: "Ahmad (24), izbjeglica iz Alepa, kaže da sada radi kao medicinska sestra.",
        solutions: "Od pokretanja programa 2021. godine pomogao je da 300 izbjeglica nađe posao, pokazuje evaluacija.",
    },
    Case {
        lang: "sr",
        off_topic: "Градско веће усвојило је нови буџет за поправку путева.",
        neutral: "Министарство је објавило нове податке о захтевима за азил које су поднеле избеглице.",
        collective: "Нови талас миграната стиже на границу.",
        hate: "Ти мигранти су гамад и паразити.",
        threat: "Полиција каже да мигранти доносе криминал и насиље у град.",
        victim: "Десетине избеглица се удавило када се чамац преврнуо.",
        recognition: "Ахмад (24), избеглица из Алепа, каже да сада ради као медицинска сестра.",
        solutions: "Од покретања програма 2021. године помогао је да 300 избеглица нађе посао, показује евалуација.",
    },
    Case {
        lang: "mk",
        off_topic: "Градскиот совет го усвои новиот буџет за поправка на патиштата.",
        neutral: "Министерството објави нови податоци за барањата за азил поднесени од бегалците.",
        collective: "Нов бран мигранти доаѓа кон границата.",
        hate: "Овие мигранти се паразити и стока.",
        threat: "Полицијата вели дека мигрантите носат криминал и насилство.",
        victim: "Десетици бегалци се удавија кога чамецот се преврте.",
        recognition: "Ахмад (24), бегалец од Алепо, вели дека сега работи како медицинска сестра.",
        solutions: "Од почетокот, програмата им помогна на 300 бегалци да најдат работа, покажува евалуацијата.",
    },
    Case {
        lang: "sq",
        off_topic: "Këshilli bashkiak miratoi planin e ri për riparimin e rrugëve.",
        neutral: "Ministria publikoi të dhëna të reja për kërkesat për azil nga refugjatët.",
        collective: "Një valë e re migrantësh po vjen drejt Evropës.",
        hate: "Këta migrantë janë parazitë dhe bagëti.",
        threat: "Policia thotë se migrantët sjellin krim dhe dhunë në qytet.",
        victim: "Dhjetëra refugjatë u mbytën kur varka u përmbys.",
        recognition: "Ahmad (24), refugjat nga Alepo, thotë se tani punon si infermier.",
        solutions: "Që nga fillimi, programi ka ndihmuar 300 refugjatë të gjejnë punë, tregon vlerësimi.",
    },
    Case {
        lang: "sl",
        off_topic: "Mestni svet je sprejel nov načrt za popravilo cest.",
        neutral: "Ministrstvo je objavilo nove podatke o prošnjah za azil, ki so jih vložili begunci.",
        collective: "Nov val migrantov prihaja proti meji.",
        hate: "Ti migranti so paraziti in golazen.",
        threat: "Policija pravi, da migranti prinašajo kriminal in nasilje v mesto.",
        victim: "Več deset beguncev je utonilo, ko se je čoln prevrnil.",
        recognition: "Ahmad (24), begunec iz Alepa, pravi, da zdaj dela kot medicinska sestra.",
        solutions: "Od začetka je program pomagal 300 beguncem najti službo, kaže evalvacija.",
    },
    Case {
        lang: "pl",
        off_topic: "Rada miasta przyjęła nowy plan remontu dróg.",
        neutral: "Ministerstwo opublikowało nowe dane o wnioskach azylowych złożonych przez uchodźców.",
        collective: "Nowa fala migrantów zmierza do granicy.",
        hate: "Ci imigranci to pasożyty i robactwo.",
        threat: "Policja twierdzi, że migranci przynoszą przestępczość i przemoc.",
        victim: "Kilkudziesięciu uchodźców utonęło, gdy łódź się przewróciła.",
        recognition: "Ahmad (24), uchodźca z Aleppo, mówi, że pracuje teraz jako pielęgniarz.",
        solutions: "Od uruchomienia program pomógł 300 uchodźcom znaleźć pracę, pokazuje ewaluacja.",
    },
    Case {
        lang: "hu",
        off_topic: "A városi tanács elfogadta az új tervet az utak javítására.",
        neutral: "A minisztérium új adatokat tett közzé a menekültek kérelmeiről.",
        collective: "Újabb migránshullám érkezik a határhoz.",
        hate: "Ezek a migránsok paraziták és férgek.",
        threat: "A rendőrség szerint a migránsok bűnözést és erőszakot hoznak.",
        victim: "Több tucat menekült fulladt vízbe, amikor a csónak felborult.",
        recognition: "Ahmad (24), aleppói menekült, azt mondja, hogy most ápolóként dolgozik.",
        solutions: "Indulása óta a program 300 menekültnek segített munkát találni, az értékelés szerint.",
    },
    Case {
        lang: "cs",
        off_topic: "Městská rada schválila nový plán oprav silnic.",
        neutral: "Ministerstvo zveřejnilo nové údaje o žádostech o azyl podaných uprchlíky.",
        collective: "Nová vlna migrantů míří k hranicím.",
        hate: "Tihle migranti jsou paraziti a havěť.",
        threat: "Policie tvrdí, že migranti přinášejí kriminalitu a násilí.",
        victim: "Desítky uprchlíků utonuly, když se člun převrátil.",
        recognition: "Ahmad (24), uprchlík z Aleppa, říká, že nyní pracuje jako zdravotní sestra.",
        solutions: "Od spuštění program pomohl 300 uprchlíkům najít práci, ukazuje evaluace.",
    },
    Case {
        lang: "sk",
        off_topic: "Mestské zastupiteľstvo schválilo nový plán opráv ciest.",
        neutral: "Ministerstvo zverejnilo nové údaje o žiadostiach o azyl podaných utečencami.",
        collective: "Nová vlna migrantov mieri k hraniciam.",
        hate: "Títo migranti sú paraziti a háveď.",
        threat: "Polícia tvrdí, že migranti prinášajú kriminalitu a násilie.",
        victim: "Desiatky utečencov sa utopili, keď sa čln prevrátil.",
        recognition: "Ahmad (24), utečenec z Aleppa, hovorí, že teraz pracuje ako zdravotná sestra.",
        solutions: "Od spustenia program pomohol 300 utečencom nájsť prácu, ukazuje evaluácia.",
    },
    Case {
        lang: "bg",
        off_topic: "Общинският съвет прие новия план за ремонт на пътищата.",
        neutral: "Министерството публикува нови данни за молбите за убежище, подадени от бежанците.",
        collective: "Нова вълна мигранти се движи към границата.",
        hate: "Тези мигранти са паразити и добитък.",
        threat: "Полицията твърди, че мигрантите носят престъпност и насилие.",
        victim: "Десетки бежанци се удавиха, когато лодката се преобърна.",
        recognition: "Ахмад (24), бежанец от Алепо, казва, че сега работи като медицинска сестра.",
        solutions: "От началото програмата е помогнала на 300 бежанци да намерят работа, показва оценката.",
    },
    Case {
        lang: "el",
        off_topic: "Το δημοτικό συμβούλιο ενέκρινε το νέο σχέδιο για την επισκευή δρόμων.",
        neutral: "Το υπουργείο δημοσίευσε νέα στοιχεία για τις αιτήσεις ασύλου των προσφύγων.",
        collective: "Ένα νέο κύμα μεταναστών κατευθύνεται προς τα σύνορα.",
        hate: "Αυτοί οι μετανάστες είναι παράσιτα και κατσαρίδες.",
        threat: "Η αστυνομία λέει ότι οι μετανάστες φέρνουν εγκληματικότητα και βία.",
        victim: "Δεκάδες πρόσφυγες πνίγηκαν όταν η βάρκα ανατράπηκε.",
        recognition: "Ο Αχμέντ (24), πρόσφυγας από το Χαλέπι, λέει ότι τώρα εργάζεται ως νοσηλεύτρια.",
        solutions: "Από την έναρξη, το πρόγραμμα έχει βοηθήσει 300 πρόσφυγες να βρουν δουλειά, σύμφωνα με την αξιολόγηση.",
    },
    Case {
        lang: "de",
        off_topic: "Der Stadtrat hat den neuen Plan für Straßenreparaturen beschlossen.",
        neutral: "Das Ministerium veröffentlichte neue Zahlen zu Asylanträgen von Flüchtlingen.",
        collective: "Eine neue Flüchtlingswelle rollt auf die Grenze zu.",
        hate: "Diese Migranten sind Parasiten und Ungeziefer.",
        threat: "Die Polizei sagt, die Migranten bringen Kriminalität und Gewalt in die Stadt.",
        victim: "Dutzende Flüchtlinge ertranken, als ihr Boot kenterte.",
        recognition: "Ahmad (24), ein Flüchtling aus Aleppo, sagt, dass er jetzt als Krankenpfleger arbeitet.",
        solutions: "Seit dem Start hat das Programm 300 Flüchtlingen geholfen, Arbeit zu finden, zeigt die Evaluation.",
    },
    Case {
        lang: "it",
        off_topic: "Il consiglio comunale ha approvato il nuovo piano per la riparazione delle strade.",
        neutral: "Il ministero ha pubblicato nuovi dati sulle domande di asilo presentate dai rifugiati.",
        collective: "Una nuova ondata di migranti si dirige verso il confine.",
        hate: "Questi migranti sono parassiti e bestie.",
        threat: "La polizia dice che i migranti portano criminalità e violenza in città.",
        victim: "Decine di rifugiati sono annegati quando la barca si è ribaltata.",
        recognition: "Ahmad (24), rifugiato di Aleppo, dice che ora lavora come infermiere.",
        solutions: "Dall'avvio, il programma ha aiutato 300 rifugiati a trovare lavoro, mostra la valutazione.",
    },
];

fn classify(text: &str, lang: &str) -> Labels {
    match LexiconClassifier::new().classify(text, Some(lang)) {
        Ok(l) => l,
        Err(e) => panic!("classify failed for {lang}: {e}"),
    }
}

fn shared() -> &'static LexiconClassifier {
    static C: std::sync::OnceLock<LexiconClassifier> = std::sync::OnceLock::new();
    C.get_or_init(LexiconClassifier::new)
}

fn run(text: &str, lang: Option<&str>) -> Labels {
    match shared().classify(text, lang) {
        Ok(l) => l,
        Err(e) => panic!("classify failed: {e}"),
    }
}

const T: f32 = 0.5;

#[test]
fn every_language_positive_and_negative_per_label() {
    let mut failures = Vec::new();
    let mut check = |ok: bool, lang: &str, what: &str, text: &str, l: &Labels| {
        if !ok {
            failures.push(format!(
                "[{lang}] {what}: {text}\n    rel={:.2} hate={}/{:.2} coll={:.2} threat={:.2} victim={:.2} rec={:.2} sol={:.2}",
                l.relevance.score,
                l.hate.class,
                l.hate.score,
                l.collective_labelling.score,
                l.frame.threat,
                l.frame.victim,
                l.frame.recognition,
                l.solutions.score
            ));
        }
    };
    for c in CASES {
        let l = run(c.off_topic, Some(c.lang));
        check(
            l.relevance.score < T,
            c.lang,
            "off-topic not relevant",
            c.off_topic,
            &l,
        );
        check(
            l.language_support == LanguageSupport::LexiconOnly,
            c.lang,
            "supported",
            c.off_topic,
            &l,
        );

        let l = run(c.neutral, Some(c.lang));
        check(
            l.relevance.score >= T,
            c.lang,
            "neutral relevant",
            c.neutral,
            &l,
        );
        check(
            l.collective_labelling.score < T,
            c.lang,
            "neutral not collective",
            c.neutral,
            &l,
        );
        check(
            l.hate.class == HateClass::None,
            c.lang,
            "neutral not hate",
            c.neutral,
            &l,
        );
        check(
            l.frame.threat < T,
            c.lang,
            "neutral not threat",
            c.neutral,
            &l,
        );
        check(
            l.frame.victim < T,
            c.lang,
            "neutral not victim",
            c.neutral,
            &l,
        );
        check(
            l.frame.recognition < T,
            c.lang,
            "neutral not recognition",
            c.neutral,
            &l,
        );
        check(
            l.solutions.score < T,
            c.lang,
            "neutral not solutions",
            c.neutral,
            &l,
        );

        let l = run(c.collective, Some(c.lang));
        check(
            l.collective_labelling.score >= T,
            c.lang,
            "collective",
            c.collective,
            &l,
        );
        check(
            !l.collective_labelling.spans.is_empty(),
            c.lang,
            "collective spans",
            c.collective,
            &l,
        );
        check(
            l.relevance.score >= T,
            c.lang,
            "collective relevant",
            c.collective,
            &l,
        );

        let l = run(c.hate, Some(c.lang));
        check(l.hate.class == HateClass::Hate, c.lang, "hate", c.hate, &l);
        check(
            l.hate.target.as_deref() == Some("migrants_refugees"),
            c.lang,
            "hate target",
            c.hate,
            &l,
        );

        let l = run(c.threat, Some(c.lang));
        check(l.frame.threat >= T, c.lang, "threat", c.threat, &l);
        check(
            l.frame.victim < T,
            c.lang,
            "threat not victim",
            c.threat,
            &l,
        );

        let l = run(c.victim, Some(c.lang));
        check(l.frame.victim >= T, c.lang, "victim", c.victim, &l);
        check(
            l.frame.threat < T,
            c.lang,
            "victim not threat",
            c.victim,
            &l,
        );

        let l = run(c.recognition, Some(c.lang));
        check(
            l.frame.recognition >= T,
            c.lang,
            "recognition",
            c.recognition,
            &l,
        );
        check(
            l.frame.migrants_named == Some(true),
            c.lang,
            "named",
            c.recognition,
            &l,
        );
        check(
            l.frame.migrants_quoted == Some(true),
            c.lang,
            "quoted",
            c.recognition,
            &l,
        );
        check(
            l.collective_labelling.score < T,
            c.lang,
            "recognition not collective",
            c.recognition,
            &l,
        );

        let l = run(c.solutions, Some(c.lang));
        check(l.solutions.score >= T, c.lang, "solutions", c.solutions, &l);
        check(
            l.hate.class == HateClass::None,
            c.lang,
            "solutions not hate",
            c.solutions,
            &l,
        );
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn guessed_language_gives_same_labels_as_given() {
    for c in CASES {
        for text in [c.neutral, c.collective, c.recognition] {
            let guessed = run(text, None);
            assert_eq!(
                guessed.language_support,
                LanguageSupport::LexiconOnly,
                "{text}"
            );
            assert!(
                guessed.relevance.score >= T,
                "[{}] guessed relevance: {text}",
                c.lang
            );
        }
    }
}

// ---- Hard cases -----------------------------------------------------------

#[test]
fn negation_cancels_threat_and_records_counter_speech() {
    let l = run("Migrants are not a threat to our security.", Some("en"));
    assert!(l.frame.threat < T, "threat {}", l.frame.threat);
    assert!(
        l.frame
            .evidence
            .iter()
            .any(|s| s.cue_type == Some(CueType::CounterSpeech)),
        "{:?}",
        l.frame.evidence
    );
    let l = run("Migranti nisu pretnja za naše građane.", Some("sr"));
    assert!(l.frame.threat < T, "threat {}", l.frame.threat);
    let l = run("Мигранти нису претња за наше грађане.", Some("sr"));
    assert!(l.frame.threat < T, "threat {}", l.frame.threat);
    let l = run(
        "Migranten sind keine Gefahr für unsere Sicherheit.",
        Some("de"),
    );
    assert!(l.frame.threat < T, "threat {}", l.frame.threat);
    // Without the negator the same sentence frames a threat.
    let l = run("Migranti su pretnja za naše građane.", Some("sr"));
    assert!(l.frame.threat >= T, "threat {}", l.frame.threat);
}

#[test]
fn negated_generalisation_is_not_a_generic_claim() {
    let l = run("Not all migrants are criminals.", Some("en"));
    assert!(
        l.collective_labelling.score < T,
        "{:?}",
        l.collective_labelling
    );
    assert_eq!(l.hate.class, HateClass::None);
    let l = run(
        "Migrants all over Europe celebrated the decision.",
        Some("en"),
    );
    assert!(
        l.collective_labelling.score < T,
        "{:?}",
        l.collective_labelling
    );
    let l = run("All migrants are criminals.", Some("en"));
    assert!(
        l.collective_labelling.score >= T,
        "{:?}",
        l.collective_labelling
    );
    assert_eq!(l.hate.class, HateClass::Hate, "stereotype: {:?}", l.hate);
}

#[test]
fn condemnation_cancels_collective_labelling() {
    for (text, lang) in [
        ("It is wrong to call migrants an invasion.", "en"),
        (
            "The minister's claim that refugees are a flood was condemned by NGOs.",
            "en",
        ),
        ("Pogrešno je nazivati migrante najezdom.", "hr"),
        (
            "Es ist falsch, Flüchtlinge als Flut zu bezeichnen, kritisierte die Kirche.",
            "de",
        ),
        (
            "Il ministro ha parlato di invasione di migranti ed è stato criticato.",
            "it",
        ),
    ] {
        let l = run(text, Some(lang));
        assert!(
            l.collective_labelling.score < T,
            "{text}: {:?}",
            l.collective_labelling
        );
        assert!(
            l.collective_labelling
                .spans
                .iter()
                .any(|s| s.cue_type == Some(CueType::CounterSpeech)),
            "{text}: {:?}",
            l.collective_labelling.spans
        );
        assert!(l.relevance.score >= T, "{text}: still about migration");
    }
    // Control: the same metaphor without condemnation counts.
    let l = run("Ministers warned of an invasion of migrants.", Some("en"));
    assert!(
        l.collective_labelling.score >= T,
        "{:?}",
        l.collective_labelling
    );
}

#[test]
fn quoting_hate_to_condemn_it_is_not_hate() {
    let l = run(
        "Activists condemned the banner that called migrants vermin.",
        Some("en"),
    );
    assert_eq!(l.hate.class, HateClass::None, "{:?}", l.hate);
    let l = run(
        "Aktivisti su osudili transparent na kojem su migranti nazvani gamadi i parazitima.",
        Some("hr"),
    );
    assert_eq!(l.hate.class, HateClass::None, "{:?}", l.hate);
    // Reported without condemnation it still counts, discounted.
    let l = run("He said migrants are vermin and parasites.", Some("en"));
    assert_ne!(l.hate.class, HateClass::None, "{:?}", l.hate);
}

#[test]
fn literal_waves_are_not_collective_labelling() {
    for (text, lang) in [
        ("A wave of heat hit the city on Monday.", "en"),
        ("A heat wave hit the city on Monday.", "en"),
        ("Refugees in the camp suffered during the heat wave.", "en"),
        ("Toplotni talas pogodio je Beograd.", "sr"),
        ("Izbjeglice u kampu pate zbog toplinskog vala.", "hr"),
        (
            "Fala upałów dotarła do Polski, uchodźcy w ośrodku cierpią.",
            "pl",
        ),
        ("Die Hitzewelle trifft auch die Flüchtlinge im Lager.", "de"),
        (
            "Un'ondata di caldo colpisce anche i migranti nel centro di accoglienza.",
            "it",
        ),
        ("Surfers rode a huge wave at Nazaré.", "en"),
    ] {
        let l = run(text, Some(lang));
        assert!(
            l.collective_labelling.score < T,
            "{text}: {:?}",
            l.collective_labelling
        );
        assert!(
            !l.collective_labelling
                .spans
                .iter()
                .any(|s| s.cue_type == Some(CueType::WaterMetaphor)),
            "{text}: {:?}",
            l.collective_labelling.spans
        );
    }
}

#[test]
fn individual_story_is_recognition_not_collective() {
    let text = "Amira, 31, a refugee from Syria, opened a bakery in Zagreb. \"I wanted to give something back,\" she said. Her neighbours now buy bread from her every morning.";
    let l = run(text, Some("en"));
    assert!(l.frame.recognition >= 0.7, "{}", l.frame.recognition);
    assert_eq!(l.frame.migrants_named, Some(true));
    assert_eq!(l.frame.migrants_quoted, Some(true));
    assert!(l.collective_labelling.score < T);
    assert_eq!(l.hate.class, HateClass::None);
    let l = run(
        "Dvadesetčetvorogodišnji Ahmad, 24-godišnji izbjeglica iz Alepa, kaže da radi kao kuhar.",
        Some("hr"),
    );
    assert_eq!(l.frame.migrants_named, Some(true), "{:?}", l.frame);
}

#[test]
fn policy_reporting_without_generalising_is_neutral() {
    let text =
        "The government adopted a new asylum law that shortens procedures for asylum seekers. \
                The law also changes how appeals are handled and sets new deadlines for decisions.";
    let l = run(text, Some("en"));
    assert!(l.relevance.score >= T);
    assert!(
        l.collective_labelling.score < T,
        "{:?}",
        l.collective_labelling
    );
    assert_eq!(l.hate.class, HateClass::None);
    assert!(l.frame.threat < T && l.frame.victim < T);
}

fn filler(words: usize) -> String {
    let sentence = "The football club presented its new coach and the season tickets went on sale at the stadium. ";
    let mut s = String::new();
    while s.split_whitespace().count() < words {
        s.push_str(sentence);
    }
    s
}

#[test]
fn relevance_uses_density() {
    let passing = format!(
        "{} One of the fans was a refugee. {}",
        filler(500),
        filler(500)
    );
    let l = run(&passing, Some("en"));
    assert!(
        l.relevance.score < 0.35,
        "passing mention: {}",
        l.relevance.score
    );
    let centred = "Refugees and migrants waited at the border crossing for days. Asylum seekers \
                   said the reception centre was full. The migrants were moved to a refugee camp, \
                   and asylum applications were registered. Deportation orders were issued for some migrants.";
    let l = run(centred, Some("en"));
    assert!(l.relevance.score >= 0.9, "centred: {}", l.relevance.score);
    // The cheap first stage agrees with the full classification.
    let r = shared().relevance(centred, Some("en")).unwrap_or(-1.0);
    assert!((r - l.relevance.score).abs() < 1e-6);
    let r = shared().relevance(&passing, None).unwrap_or(-1.0);
    assert!(r < 0.35, "{r}");
}

#[test]
fn long_article_discounts_single_frame_cue() {
    let text = format!(
        "{} Migrants were mentioned once with crime. {}",
        filler(1500),
        filler(1500)
    );
    let l = run(&text, Some("en"));
    assert!(l.frame.threat < T, "{}", l.frame.threat);
}

// ---- Evidence spans -------------------------------------------------------

fn span_texts<'t>(text: &'t str, spans: &[mediawatch_core::labels::EvidenceSpan]) -> Vec<&'t str> {
    spans.iter().map(|s| &text[s.start..s.end]).collect()
}

#[test]
fn spans_point_at_cues_in_original_text() {
    let text = "Вести: Нови ТАЛАС миграната стиже на границу.";
    let l = run(text, Some("sr"));
    let coll = span_texts(text, &l.collective_labelling.spans);
    assert!(coll.contains(&"ТАЛАС"), "{coll:?}");
    let rel = span_texts(text, &l.relevance.evidence);
    assert_eq!(rel, ["миграната"]);

    let text = "Straż: nowa fala uchodźców zalała granicę.";
    let l = run(text, Some("pl"));
    let coll = span_texts(text, &l.collective_labelling.spans);
    assert!(coll.contains(&"fala"), "{coll:?}");
    assert!(span_texts(text, &l.relevance.evidence).contains(&"uchodźców"));

    let text = "Die Flüchtlingswelle erreicht Passau.";
    let l = run(text, Some("de"));
    assert!(span_texts(text, &l.collective_labelling.spans).contains(&"Flüchtlingswelle"));

    let text = "Ένα νέο ΚΥΜΑ μεταναστών.";
    let l = run(text, Some("el"));
    assert!(span_texts(text, &l.collective_labelling.spans).contains(&"ΚΥΜΑ"));

    // Decomposed diacritics (c + combining caron) map back to whole characters.
    let text = "Izbjeglic\u{30c}e stižu: novi val izbjeglica.";
    let l = run(text, Some("hr"));
    for s in &l.relevance.evidence {
        assert!(text.is_char_boundary(s.start) && text.is_char_boundary(s.end));
    }
    assert!(span_texts(text, &l.collective_labelling.spans).contains(&"val"));

    // Multi-word cues span from the first to the last word.
    let text = "They said: these people are all the same, the migrants are all criminals.";
    let l = run(text, Some("en"));
    let coll = span_texts(text, &l.collective_labelling.spans);
    assert!(coll.contains(&"migrants are all"), "{coll:?}");
}

#[test]
fn every_span_is_inside_the_text_on_char_boundaries() {
    for c in CASES {
        for text in [
            c.neutral,
            c.collective,
            c.hate,
            c.threat,
            c.victim,
            c.recognition,
            c.solutions,
        ] {
            let l = run(text, Some(c.lang));
            let all = l
                .relevance
                .evidence
                .iter()
                .chain(&l.hate.evidence)
                .chain(&l.collective_labelling.spans)
                .chain(&l.frame.evidence)
                .chain(&l.solutions.evidence);
            for s in all {
                assert!(s.start < s.end && s.end <= text.len(), "{text}: {s:?}");
                assert!(text.is_char_boundary(s.start) && text.is_char_boundary(s.end));
            }
        }
    }
}

// ---- Languages and API ----------------------------------------------------

#[test]
fn unsupported_language_scores_nothing() {
    let text = "Les migrants sont arrivés à la frontière avec leurs enfants.";
    let l = run(text, Some("fr"));
    assert_eq!(l.language_support, LanguageSupport::Unsupported);
    assert_eq!(l.relevance.score, 0.0);
    assert_eq!(l.model_version, LexiconClassifier::VERSION);
    assert_eq!(shared().relevance(text, Some("fr")).ok(), Some(0.0));
}

#[test]
fn short_text_without_stopwords_picks_a_lexicon() {
    let l = run("Migranti!", None);
    assert_eq!(l.language_support, LanguageSupport::LexiconOnly);
    assert!(l.relevance.score >= T);
    let l = run("Bezanci.", None);
    assert_eq!(l.language_support, LanguageSupport::LexiconOnly);
}

#[test]
fn language_codes_with_regions_and_scripts() {
    for code in ["sr-Latn", "sr_RS", "bs", "cnr", "me", "HR"] {
        let l = classify("Novi val migranata stiže na granicu.", code);
        assert!(l.collective_labelling.score >= T, "{code}");
    }
    assert_eq!(
        guess_language("Die Flüchtlinge sind an der Grenze angekommen."),
        Some("de")
    );
}

#[test]
fn trait_is_object_safe_and_batches_in_order() {
    let c: Arc<dyn Classifier> = Arc::new(LexiconClassifier::new());
    let boxed: Box<dyn Classifier> = Box::new(LexiconClassifier::default());
    assert_eq!(boxed.model_version(), "lexicon-0.1.0");
    let inputs = [
        ClassifyInput {
            id: "a",
            text: "A wave of migrants.",
            lang: Some("en"),
            context: None,
        },
        ClassifyInput {
            id: "b",
            text: "Road repairs start Monday.",
            lang: Some("en"),
            context: None,
        },
        ClassifyInput {
            id: "c",
            text: "Val migranata.",
            lang: None,
            context: None,
        },
    ];
    let out = c.classify_batch(&inputs);
    assert_eq!(out.len(), 3);
    let scores: Vec<f32> = out
        .iter()
        .map(|r| r.as_ref().map_or(-1.0, |l| l.relevance.score))
        .collect();
    assert!(
        scores[0] >= T && scores[1] < T && scores[2] >= T,
        "{scores:?}"
    );
    // Shared across threads.
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let c = Arc::clone(&c);
            std::thread::spawn(move || c.relevance("Refugees crossed the border.", Some("en")).ok())
        })
        .collect();
    for h in handles {
        assert!(h.join().ok().flatten().is_some_and(|r| r >= T));
    }
}

#[test]
fn all_lexicons_build_and_cover_every_kind() {
    let c = LexiconClassifier::new();
    for code in LexiconClassifier::lexicon_languages() {
        let counts = match c.lexicon_coverage(code) {
            Some(Ok(counts)) => counts,
            Some(Err(e)) => panic!("{code}: {e}"),
            None => panic!("{code}: no lexicon"),
        };
        for (kind, n) in &counts {
            assert!(*n > 0, "{code}: no entries of kind {kind}");
        }
        let total: usize = counts.iter().map(|(_, n)| n).sum();
        assert!(total >= 300, "{code}: only {total} entries");
    }
    assert_eq!(Kind::ALL.len(), 30);
}

// ---- Robustness -------------------------------------------------------------

#[test]
fn odd_inputs_do_not_panic() {
    let binaryish: String = (0u8..=255).map(char::from).cycle().take(20_000).collect();
    let lossy =
        String::from_utf8_lossy(&[0xff, 0xfe, 0x00, 0x41, 0xc3, 0x28, 0xe2, 0x82]).into_owned();
    let inputs = [
        String::new(),
        " ".into(),
        "\n\n\n".into(),
        "...!!!???".into(),
        "\u{0}\u{1}\u{7f}".into(),
        binaryish,
        lossy,
        "ǅ ﬁ ℌ ẞ İ ı ς".into(),
        "migrant".repeat(10_000),
        "24, ( ) , 99 ,".into(),
        "A, 24".into(),
        "Ahmad,".into(),
        "\u{30c}\u{30c}\u{30c}".into(),
        "😀 migrants 😀 wave 😀".into(),
    ];
    for text in &inputs {
        for lang in [
            None,
            Some("en"),
            Some("sr"),
            Some("el"),
            Some("xx"),
            Some(""),
        ] {
            let l = run(text, lang);
            for v in [
                l.relevance.score,
                l.hate.score,
                l.collective_labelling.score,
                l.frame.threat,
                l.solutions.score,
            ] {
                assert!((0.0..=1.0).contains(&v), "{v}");
            }
            let _ = shared().relevance(text, lang);
        }
    }
    let l = run("", None);
    assert_eq!(l.relevance.score, 0.0);
}

#[test]
fn huge_text_is_truncated_not_rejected() {
    let unit = "Refugees waited at the border. A wave of migrants arrived. ";
    let text = unit.repeat(crate::MAX_INPUT_BYTES / unit.len() + 1000);
    assert!(text.len() > crate::MAX_INPUT_BYTES);
    let l = run(&text, Some("en"));
    assert!(l.relevance.score > 0.9);
    assert!(l.collective_labelling.spans.len() <= crate::rules::MAX_EVIDENCE);
    for s in &l.collective_labelling.spans {
        assert!(s.end <= crate::MAX_INPUT_BYTES);
    }
}

/// Regressions found on realistic news: counting arrivals is not solutions
/// journalism, an institution's name is not a migrant's voice, "prava"
/// ("real") is not "rights", and German "gesunken" (numbers fell) is not a
/// sinking boat.
#[test]
fn neutral_news_does_not_trigger_frames() {
    let text = "Around 200 migrants are currently staying at the reception centre, the Commissariat \
                for Refugees and Migration said on Monday. Aid groups run language classes for children.";
    let l = run(text, Some("en"));
    assert!(l.relevance.score >= 0.9);
    assert!(l.solutions.score < T, "{:?}", l.solutions);
    assert!(l.frame.recognition < 0.3, "{:?}", l.frame);
    assert_eq!(l.frame.migrants_quoted, Some(false));
    let l = run(
        "\"Ovo je prava najezda migranata\", rekao je mještanin.",
        Some("hr"),
    );
    assert!(l.frame.recognition < 0.3, "{:?}", l.frame);
    for (text, lang) in [
        (
            "We finished the data migration; the migration guide explains the cloud migration.",
            "en",
        ),
        ("Migracija podataka na novi poslužitelj završena je.", "hr"),
        ("Migracja danych do chmury zakończyła się.", "pl"),
    ] {
        assert!(run(text, Some(lang)).relevance.score < 0.3, "{text}");
        assert!(
            shared().relevance(text, Some(lang)).unwrap_or(1.0) < 0.3,
            "{text}"
        );
    }
    let l = run(
        "Die Zahl der Asylanträge von Flüchtlingen ist im vergangenen Monat gesunken.",
        Some("de"),
    );
    assert!(l.frame.victim < 0.3, "{:?}", l.frame);
}
