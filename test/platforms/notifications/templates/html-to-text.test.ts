import { describe, expect, it } from 'vitest';
import { decodeEntities, htmlToText } from '../../../../src/platforms/notifications/templates/html-to-text.js';

describe('htmlToText', () => {
  it('turns paragraphs, headings and <br> into lines, and keeps links as "label (url)"', () => {
    const html =
      "<h1>Semaine de la pizza</h1><p>Cher(e) Camille,</p><p>Une pizza achetée,<br>un dessert offert.</p><p><a href='https://levieuxmoulin.fr/reserver?a&#x3D;1&amp;b&#x3D;2'>Réservez maintenant</a></p>";
    expect(htmlToText(html)).toBe(
      'Semaine de la pizza\n\nCher(e) Camille,\n\nUne pizza achetée,\nun dessert offert.\n\nRéservez maintenant (https://levieuxmoulin.fr/reserver?a=1&b=2)',
    );
  });

  it('decodes entities once, after the tags are gone', () => {
    expect(htmlToText('<p>L&#x27;apéro &amp; co &lt;b&gt; &eacute;t&eacute; &euro;&nbsp;5 &#8364; &unknown;</p>')).toBe(
      "L'apéro & co <b> été €\u00a05 € &unknown;",
    );
    expect(decodeEntities('&amp;lt;')).toBe('&lt;');
    expect(decodeEntities('&#0; &#x110000;')).toBe('\ufffd \ufffd');
  });

  it('collapses HTML white space and drops what does not show', () => {
    const html = `<!DOCTYPE html><html><head><title>x</title><style>p { color: red }</style></head>
      <body><!-- tracking --><script>alert(1)</script>
        <div>
          Bonjour
             Camille
        </div>
      </body></html>`;
    expect(htmlToText(html)).toBe('Bonjour Camille');
  });

  it('writes lists, rules, tables and images readably', () => {
    expect(htmlToText('<p>Au menu :</p><ul><li>Huîtres</li><li>Magret</li></ul><hr><img src="x.png" alt="Le Vieux Moulin">')).toBe(
      'Au menu :\n\n- Huîtres\n- Magret\n\n---\n\nLe Vieux Moulin',
    );
    expect(htmlToText('<table><tr><td>Entrée</td><td>9 €</td></tr><tr><td>Plat</td><td>18 €</td></tr></table>')).toBe('Entrée\t9 €\nPlat\t18 €');
  });

  it('does not repeat a link whose label is its address, and ignores anchors', () => {
    expect(htmlToText('<a href="https://levieuxmoulin.fr">https://levieuxmoulin.fr</a>')).toBe('https://levieuxmoulin.fr');
    expect(htmlToText('<a href="https://levieuxmoulin.fr/">levieuxmoulin.fr</a>')).toBe('levieuxmoulin.fr');
    expect(htmlToText('<a href="mailto:contact@levieuxmoulin.fr">contact@levieuxmoulin.fr</a>')).toBe('contact@levieuxmoulin.fr');
    expect(htmlToText('<a href="mailto:contact@levieuxmoulin.fr">Écrivez-nous</a>')).toBe('Écrivez-nous (contact@levieuxmoulin.fr)');
    expect(htmlToText('<a href="#top">Haut</a>')).toBe('Haut');
    expect(htmlToText('<a href="https://x.fr/a"><strong>Voir</strong> le menu</a>')).toBe('Voir le menu (https://x.fr/a)');
    expect(htmlToText('<a href="https://x.fr/a"><img src="logo.png"></a>')).toBe('https://x.fr/a');
  });
});
